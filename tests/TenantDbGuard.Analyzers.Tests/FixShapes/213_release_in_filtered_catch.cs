using System.Threading.Tasks;
using Prelude;

// Leak: the release is in a filtered catch only; the normal path and other exceptions keep the connection.
public sealed class Filtered
{
    public async Task<int> Run(Pool pool, bool transient)
    {
        var conn = await pool.GetConnectionAsync();
        try
        {
            return await conn.ExecuteAsync("update heartbeat set at = now()");
        }
        catch (System.InvalidOperationException) when (transient)
        {
            conn.Release();
            return 0;
        }
    }
}
