using Prelude;

// Leak: released at the end without finally, in a local with a capital letter.
public sealed class Legacy
{
    public int Run(Pool pool)
    {
        var Connection = pool.GetConnection();
        var Rows = Connection.Execute("delete from queue where done = 1");
        Connection.Release();
        return Rows;
    }
}
