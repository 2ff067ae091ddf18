using Prelude;

// Leak: the connection comes from one of two pools chosen by a switch expression; an early return keeps it.
public sealed class Router
{
    public int Run(Pool primary, Pool replica, int kind)
    {
        var lease = kind switch
        {
            0 => primary.GetConnection(),
            _ => replica.GetConnection(),
        };
        var rows = lease.Execute("select count(*) from events");
        if (rows > 100)
        {
            return rows;
        }

        lease.Release();
        return 0;
    }
}
