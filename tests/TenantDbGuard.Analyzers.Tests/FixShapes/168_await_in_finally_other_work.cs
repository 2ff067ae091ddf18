using System.Threading.Tasks;
using Prelude;

// Leak: a finally awaits a log flush but the release sits after the try, where a failure never reaches it.
public sealed class Exporter
{
    public async Task<int> ExportAsync(Pool pool)
    {
        var conn = await pool.GetConnectionAsync();
        int rows;
        try
        {
            rows = await conn.ExecuteAsync("insert into exports select * from orders");
        }
        finally
        {
            await Task.Yield();
            Log.Info("export attempted");
        }

        conn.Release();
        return rows;
    }
}
