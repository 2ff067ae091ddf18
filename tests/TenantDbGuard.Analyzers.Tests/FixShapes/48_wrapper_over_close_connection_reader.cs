using System.Collections;
using System.Collections.Generic;
using System.Data;
using System.Data.Common;
using MySqlConnector;

// Hand-off: a wrapper owns the reader, which owns the connection.
public sealed class Rows : IEnumerable<string>
{
    private readonly DbDataReader _reader;

    public Rows(DbDataReader reader) => _reader = reader;

    public IEnumerator<string> GetEnumerator()
    {
        using (_reader)
        {
            while (_reader.Read())
            {
                yield return _reader.GetString(0);
            }
        }
    }

    IEnumerator IEnumerable.GetEnumerator() => GetEnumerator();
}

public sealed class RowSource
{
    public Rows Names(MySqlConnection template)
    {
        var conn = template.Clone();
        conn.Open();
        var command = new MySqlCommand("select name from customers order by id", conn);
        return new Rows(command.ExecuteReader(CommandBehavior.CloseConnection));
    }
}
