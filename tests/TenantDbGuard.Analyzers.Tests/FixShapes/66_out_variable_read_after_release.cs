using Prelude;

// Leak: an early return skips the release; the out variable is read after the release, past slow work.
public sealed class Quota
{
    public int Read(Pool pool, string text)
    {
        var conn = pool.GetConnection();
        conn.Execute("select 1");
        if (text.Length == 0)
        {
            return 0;
        }

        int.TryParse(text, out var quota);
        conn.Release();
        Log.Info("quota read");
        return quota;
    }
}
