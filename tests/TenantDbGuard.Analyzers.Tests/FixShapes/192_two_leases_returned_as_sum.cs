using Prelude;

// Leak: the second connection is never released, and the first not when the second fails.
public sealed class Totals
{
    public int Sum(Pool pool)
    {
        var a = pool.GetConnection();
        var b = pool.GetConnection();
        var n = a.Execute("select 1") + b.Execute("select 2");
        a.Release();
        return n;
    }
}
