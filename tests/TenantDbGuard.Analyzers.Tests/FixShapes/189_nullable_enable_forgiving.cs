#nullable enable
using System.Threading.Tasks;
using Prelude;

// Leak: the early return for a missing name skips the release.
public sealed class Names
{
    public async Task<string?> FirstAsync(Pool pool, string? filter)
    {
        PooledConnection? conn = await pool.GetConnectionAsync().ConfigureAwait(false);
        if (filter is null)
        {
            return null;
        }

        var n = await conn!.ExecuteAsync("select name from customers where name like '" + filter + "'");
        conn.Release();
        return n.ToString();
    }
}
