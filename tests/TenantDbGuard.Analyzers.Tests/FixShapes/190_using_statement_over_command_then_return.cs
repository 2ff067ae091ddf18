using System.Threading.Tasks;
using MySqlConnector;

// Leak: the connection is opened, the command disposed, the connection never.
public sealed class Reader
{
    public async Task<long> CountAsync(string connectionString, bool skip)
    {
        var conn = new MySqlConnection(connectionString);
        await conn.OpenAsync();
        using (var cmd = conn.CreateCommand())
        {
            cmd.CommandText = "select count(*) from orders";
            if (skip)
            {
                return 0;
            }

            var n = (long)(await cmd.ExecuteScalarAsync())!;
            return n;
        }
    }
}
