using System;
using System.Threading;
using System.Threading.Tasks;
using Microsoft.EntityFrameworkCore;
using Microsoft.Extensions.Hosting;

namespace TenantDbGuard.EntityFrameworkCore;

/// <summary>
/// Reads the server's version when the host starts, so that the first requests' contexts do not block threads on it
/// (a context is created synchronously by dependency injection). A server out of reach does not stop the host: the
/// first context reads the version again (and fails as its request would have).
/// </summary>
internal sealed class TenantDbContextWarmUp<TContext>(TenantDbContextFactory<TContext> factory) : IHostedService
    where TContext : DbContext
{
    public async Task StartAsync(CancellationToken cancellationToken)
    {
        try
        {
            await factory.GetServerVersionAsync(cancellationToken).ConfigureAwait(false);
        }
        catch (Exception exception) when (exception is System.Data.Common.DbException or TimeoutException)
        {
            // Read again by the first context; the health check reports the master out of reach meanwhile.
        }
    }

    public Task StopAsync(CancellationToken cancellationToken) => Task.CompletedTask;
}
