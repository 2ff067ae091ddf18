using System.Threading.Tasks;
using MySqlConnector;

// Leak: a switch expression opens from one of two sources; a throw from the command keeps it open.
public sealed class Picker
{
    public async Task<long> Count(MySqlDataSource primary, MySqlDataSource replica, bool usePrimary)
    {
        var connection = usePrimary switch
        {
            true => await primary.OpenConnectionAsync(),
            false => await replica.OpenConnectionAsync(),
        };
        var command = new MySqlCommand("select count(*) from customers", connection);
        var n = (long)(await command.ExecuteScalarAsync())!;
        await connection.DisposeAsync();
        return n;
    }
}
