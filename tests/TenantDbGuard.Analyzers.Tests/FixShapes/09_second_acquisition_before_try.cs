using Prelude;

// Leak: when the second connection cannot be had, the first one is lost.
public sealed class CopyPlan
{
    public void Run(Pool master, LeasePool tenants)
    {
        var from = master.GetConnection();
        var to = tenants.GetConnection();
        try
        {
            from.Execute("select plan from tenants");
            to.Execute("update tenants set plan = 'gold'");
        }
        finally
        {
            to.Dispose();
            from.Release();
        }
    }
}
