using Prelude;
// Hand-off: returned in a tuple; a failing query before that leaks.
public sealed class S10
{
    public (ConnectionLease Lease, int Rows) Open(LeasePool pool)
    {
        var lease = pool.GetConnection();
        var rows = lease.Execute("select 1");
        return (lease, rows);
    }
}
