using Prelude;

// Leak: an early return skips the release; a local function declared among the statements is called after it.
public sealed class Scores
{
    public int Score(Pool pool, bool early)
    {
        var conn = pool.GetConnection();
        int Weighted(int value) => value * 3;
        var rows = conn.Execute("select 1");
        if (early)
        {
            return 0;
        }

        conn.Release();
        Log.Info("scored");
        return Weighted(rows);
    }
}
