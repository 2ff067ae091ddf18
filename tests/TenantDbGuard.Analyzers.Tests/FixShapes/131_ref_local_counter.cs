using Prelude;

// Leak: a ref local into an array of counters is bumped while the lease is held; a zero count returns early.
public sealed class Counters
{
    private readonly int[] _counts = new int[4];

    public int Run(Pool pool, bool reset)
    {
        var conn = pool.GetConnection();
        ref int slot = ref _counts[1];
        slot += conn.Execute("select 1");
        if (reset)
        {
            slot = 0;
            return slot;
        }

        conn.Release();
        return slot;
    }
}
