using Prelude;
// Leak: a connection taken in a pattern and never released.
public sealed class S3
{
    public int Run(LeasePool pool)
    {
        if (pool.GetConnection() is { } lease)
        {
            return lease.Execute("select 1");
        }

        return 0;
    }
}
