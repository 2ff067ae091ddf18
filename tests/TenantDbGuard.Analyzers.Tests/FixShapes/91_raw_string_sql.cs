using Prelude;

// Leak: an early return between the lease and its release; the SQL is a multi-line raw string literal.
public sealed class Report
{
    public int Overdue(Pool pool, bool onlyCount)
    {
        var lease = pool.GetConnection();
        var count = lease.Execute("""
            select count(*)
              from invoices
             where due < now()
            """);
        if (onlyCount)
        {
            return count;
        }

        count += lease.Execute($"""
            select count(*) from reminders where sent = {count}
            """);
        lease.Release();
        return count;
    }
}
