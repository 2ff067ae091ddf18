// Leak: a multi-line comment and a region between the work and the release, and a trailing comment after the return.
using System.Threading.Tasks;
using Prelude;

public sealed class Documented
{
    public async Task<int> RunAsync(Pool pool)
    {
        var conn = await pool.GetConnectionAsync();
        var n = await conn.ExecuteAsync("select 1");
        /*
         * The pool counts leases: give it back exactly once.
         */
        conn.Release();
        return n; // the row count
    }
}
