using System;
using Prelude;

// Leak: the release runs only in a filtered catch and on success; an exception the filter lets through keeps it.
public sealed class InvoiceWriter
{
    public int Write(Pool pool, bool strict)
    {
        var conn = pool.GetConnection();
        try
        {
            var rows = conn.Execute("insert into invoices values (1)");
            conn.Release();
            return rows;
        }
        catch (InvalidOperationException e) when (strict && e.Message.Length > 0)
        {
            conn.Release();
            throw;
        }
    }
}
