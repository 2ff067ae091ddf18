using Prelude;

// Leak: an expression-bodied method runs a query on a lease it never releases.
public sealed class OneLiner
{
    public int Count(Pool pool) => pool.GetConnection().Execute("select count(*) from orders");
}
