using Prelude;

// Leak: the local function releases only on success.
public sealed class Reports
{
    public int Total(LeasePool pool)
    {
        return Count("orders") + Count("customers");

        int Count(string table)
        {
            var lease = pool.GetConnection();
            var rows = lease.Execute("select count(*) from " + table);
            lease.Dispose();
            return rows;
        }
    }
}
