using System.IO;
using Prelude;

// Leak: the early return inside another resource's using block skips the release after it.
public sealed class Exports
{
    public int Export(Pool pool, string prefix)
    {
        var lease = pool.GetConnection();
        using (var writer = new StringWriter())
        {
            if (prefix.Length == 0)
            {
                return 0;
            }

            writer.Write(lease.Execute("select count(*) from customers"));
        }

        lease.Release();
        return 1;
    }
}
