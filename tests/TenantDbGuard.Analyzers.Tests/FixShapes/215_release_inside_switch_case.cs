using Prelude;

// Leak: the default section of the switch never releases.
public sealed class Sections
{
    public void Run(Pool pool, int which)
    {
        var conn = pool.GetConnection();
        switch (which)
        {
            case 0:
                conn.Execute("delete from a");
                conn.Release();
                break;
            case 1:
                conn.Release();
                return;
            default:
                conn.Execute("delete from b");
                break;
        }

        Log.Info("done");
    }
}
