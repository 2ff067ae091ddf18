using Prelude;

// Leak: a do-while takes a lease each round; continue skips the release.
public sealed class Rounds
{
    public int Run(Pool pool, int rounds)
    {
        var total = 0;
        var round = 0;
        do
        {
            round++;
            var lease = pool.GetConnection();
            var rows = lease.Execute("select 1");
            if (round % 3 == 0)
            {
                continue;
            }

            total += rows;
            lease.Release();
        }
        while (round < rounds);

        return total;
    }
}
