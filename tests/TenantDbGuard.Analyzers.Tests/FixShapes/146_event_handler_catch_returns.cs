using System;
using System.Threading.Tasks;
using Prelude;

// Leak: an event handler (awaited by its publisher) logs a failure in catch and returns before the release.
public sealed class TenantEvents
{
    private readonly Pool _pool = new();

    public async Task OnTenantCreatedAsync(object? sender, EventArgs e)
    {
        var conn = await _pool.GetConnectionAsync();
        try
        {
            await conn.ExecuteAsync("update tenants set seen = now()");
        }
        catch (Exception exception)
        {
            Log.Info("touch failed: " + exception.GetType().Name);
            return;
        }

        conn.Release();
    }
}
