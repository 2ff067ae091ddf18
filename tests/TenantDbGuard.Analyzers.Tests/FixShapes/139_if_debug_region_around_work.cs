using Prelude;

// Leak: #region and #if DEBUG around the work; a failing command skips the release.
public sealed class Regions
{
    public int Run(Pool pool)
    {
        var conn = pool.GetConnection();
        #region Work
        var rows = conn.Execute("select 1");
#if DEBUG
        Log.Info("debug build");
#endif
        rows += conn.Execute("select 2");
        #endregion
        conn.Release();
        return rows;
    }
}
