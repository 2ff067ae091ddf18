// Leak: a connection used inside an await foreach over another stream, released after the loop only.
using System.Collections.Generic;
using System.Threading.Tasks;
using Prelude;

public sealed class StreamCopy
{
    private static async IAsyncEnumerable<string> Rows(bool fail)
    {
        await Task.Yield();
        yield return "a";
        if (fail)
        {
            throw new System.InvalidOperationException("stream broke");
        }

        yield return "b";
    }

    public async Task<int> CopyAsync(Pool pool, bool fail)
    {
        var conn = await pool.GetConnectionAsync();
        var n = 0;
        await foreach (var row in Rows(fail))
        {
            n += await conn.ExecuteAsync("insert into t values ('" + row + "')");
        }

        conn.Release();
        return n;
    }
}
