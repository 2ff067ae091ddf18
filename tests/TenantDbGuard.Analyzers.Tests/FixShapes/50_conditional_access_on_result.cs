using Prelude;
// Leak: a connection used once through ?. in an expression body.
public sealed class S2
{
    public int Run(LeasePool pool) => pool.GetConnection()?.Execute("select 1") ?? 0;
}
