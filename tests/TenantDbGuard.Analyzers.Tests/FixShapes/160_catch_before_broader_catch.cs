using System;
using Prelude;

// Leak: a narrow catch releases and rethrows; the broader catch after it logs and returns without releasing.
public sealed class LedgerSync
{
    public int Sync(Pool pool)
    {
        var conn = pool.GetConnection();
        try
        {
            var rows = conn.Execute("update ledger set synced = 1");
            conn.Release();
            return rows;
        }
        catch (InvalidOperationException)
        {
            conn.Release();
            throw;
        }
        catch (Exception)
        {
            Log.Info("sync failed");
            return -1;
        }
    }
}
