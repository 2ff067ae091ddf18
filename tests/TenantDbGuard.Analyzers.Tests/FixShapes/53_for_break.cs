using Prelude;
// Leak: the break skips the dispose.
public sealed class S5
{
    public int Run(LeasePool pool, int count)
    {
        var total = 0;
        for (var i = 0; i < count; i++)
        {
            var lease = pool.GetConnection();
            total += lease.Execute("select 1");
            if (total > 100)
            {
                break;
            }

            lease.Dispose();
        }

        return total;
    }
}
