using Prelude;

// Leak: an else-if on a type pattern releases; the final else keeps the connection.
public sealed class EventSink
{
    public int Store(Pool pool, object evt)
    {
        var conn = pool.GetConnection();
        var rows = conn.Execute("insert into events values (1)");
        if (evt is string text && text.Length > 100)
        {
            Log.Info("long event");
        }
        else if (evt is null)
        {
            conn.Release();
        }
        else
        {
            Log.Info("stored");
        }

        return rows;
    }
}
