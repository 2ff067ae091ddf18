using System.Collections.Generic;
using Prelude;

// Leak: the return inside the loop skips the release after it.
public sealed class Finder
{
    public int IndexOf(LeasePool pool, IReadOnlyList<string> names, string wanted)
    {
        var lease = pool.GetConnection();
        for (var i = 0; i < names.Count; i++)
        {
            lease.Execute("select 1");
            if (names[i] == wanted)
            {
                return i;
            }
        }

        lease.Dispose();
        return -1;
    }
}
