using System;
using System.Threading.Tasks;
using Prelude;

// Leak: released before slow work, but not when the count fails; the fix must not hold it over the slow work.
public sealed class Report
{
    public async Task<int> CountAsync(Pool pool, bool fail)
    {
        var conn = await pool.GetConnectionAsync();
        var count = await conn.ExecuteAsync("select count(*) from orders");
        if (fail)
        {
            throw new InvalidOperationException("no orders table");
        }

        conn.Release();
        await Task.Delay(10);
        Log.Info($"{count} orders");
        return count;
    }
}
