using Prelude;

// Leak: an else-if chain releases on two of its three branches.
public sealed class Chain
{
    public int Run(Pool pool, int kind)
    {
        var lease = pool.GetConnection();
        var rows = lease.Execute("select 1");
        if (kind == 0)
        {
            lease.Release();
        }
        else if (kind == 1)
        {
            rows++;
            lease.Release();
        }
        else
        {
            rows--;
        }

        return rows;
    }
}
