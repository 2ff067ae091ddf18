// Leak: trailing and leading comments around the release line and the return.
using System.Threading.Tasks;
using Prelude;

public sealed class CommentsAround
{
    public async Task<int> RunAsync(Pool pool)
    {
        var conn = await pool.GetConnectionAsync();
        var n = await conn.ExecuteAsync("select 1");

        /* hand it back to the pool */
        conn.Release(); // never twice
        // result
        return n;
    }
}
