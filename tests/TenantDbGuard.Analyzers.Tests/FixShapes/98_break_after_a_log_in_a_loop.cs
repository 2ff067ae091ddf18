using Prelude;

// Leak: the release is last in a loop body; a 'break' out of the loop skips it.
public sealed class Drain
{
    public int Run(Pool pool, int batches)
    {
        var total = 0;
        for (var i = 0; i < batches; i++)
        {
            var lease = pool.GetConnection();
            var rows = lease.Execute($"delete from outbox where batch = {i}");
            Log.Info($"batch {i}: {rows}");
            if (rows == 0)
            {
                break;
            }

            total += rows;
            lease.Release();
        }

        return total;
    }
}
