using Prelude;

// Leak: when the lookup returns a value the connection stays taken.
public sealed class Lookup
{
    private string _cache;

    public string Name(Pool pool, int id)
    {
        var conn = pool.GetConnection();
        var n = conn.Execute("select name from customers where id = " + id);
        if (_cache != null)
        {
            Log.Info("cached");
        }
        else
        {
            _cache = n.ToString();
            conn.Release();
        }

        return _cache;
    }
}
