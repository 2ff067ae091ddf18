using System.Threading.Tasks;
using Prelude;

// Leak: three connections at once, released at the end only.
public sealed class Fanout
{
    public async Task<int> RunAsync(Pool pool)
    {
        var conns = await Task.WhenAll(pool.GetConnectionAsync(), pool.GetConnectionAsync(), pool.GetConnectionAsync());
        var total = 0;
        foreach (var conn in conns)
        {
            total += await conn.ExecuteAsync("select 1");
        }

        foreach (var conn in conns)
        {
            conn.Release();
        }

        return total;
    }
}
