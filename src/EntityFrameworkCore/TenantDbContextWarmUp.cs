using System.Threading;
using System.Threading.Tasks;
using Microsoft.EntityFrameworkCore;
using Microsoft.Extensions.Hosting;

namespace TenantDbGuard.EntityFrameworkCore;

/// <summary>
/// Reads the server's version when the host starts, so that the first requests' contexts do not block threads on it
/// (a context is created synchronously by dependency injection).
/// </summary>
internal sealed class TenantDbContextWarmUp<TContext>(TenantDbContextFactory<TContext> factory) : IHostedService
    where TContext : DbContext
{
    public Task StartAsync(CancellationToken cancellationToken) => factory.GetServerVersionAsync(cancellationToken);

    public Task StopAsync(CancellationToken cancellationToken) => Task.CompletedTask;
}
