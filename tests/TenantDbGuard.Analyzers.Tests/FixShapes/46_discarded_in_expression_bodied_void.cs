using Prelude;

// Leak: the connection is used once in an expression body and never released.
public sealed class Ping
{
    public void Run(LeasePool pool) => pool.GetConnection().Execute("select 1");
}
