using System;
using Prelude;

// Leak: the catch swallows the failure and returns without the release.
public sealed class Logins
{
    public bool TryRecord(Pool pool)
    {
        var conn = pool.GetConnection();
        try
        {
            conn.Execute("insert into audit_log (action, at) values ('login', now())");
            conn.Release();
            return true;
        }
        catch (Exception)
        {
            return false;
        }
    }
}
