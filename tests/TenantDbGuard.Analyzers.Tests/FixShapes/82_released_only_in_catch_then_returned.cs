using System;
using Prelude;

// Leak: the lease goes back only when the statement fails; the normal path returns with it.
public sealed class Touches
{
    public int Touch(Pool pool, int id)
    {
        var lease = pool.GetConnection();
        int changed;
        try
        {
            changed = lease.Execute("update customers set name = name where id = " + id);
        }
        catch (Exception)
        {
            lease.Release();
            throw;
        }

        return changed;
    }
}
