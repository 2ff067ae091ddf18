using System.Threading;
using System.Threading.Tasks;
using Prelude;

// Leak: every await is ConfigureAwait(false); a cancelled wait between the commands skips the release.
public sealed class Throttled
{
    public async Task<int> RunAsync(Pool pool, CancellationToken cancellationToken)
    {
        var conn = await pool.GetConnectionAsync(cancellationToken).ConfigureAwait(false);
        var rows = await conn.ExecuteAsync("update tenants set seen = now()", cancellationToken).ConfigureAwait(false);
        await Task.Delay(1, cancellationToken).ConfigureAwait(false);
        rows += await conn.ExecuteAsync("select 1", cancellationToken).ConfigureAwait(false);
        conn.Release();
        return rows;
    }
}
