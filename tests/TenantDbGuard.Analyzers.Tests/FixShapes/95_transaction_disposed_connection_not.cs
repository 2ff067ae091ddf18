using System.Threading;
using System.Threading.Tasks;
using MySqlConnector;

// Leak: the transaction is disposed by 'await using', the connection under it is not.
public sealed class Transfers
{
    public async Task<int> MoveAsync(MySqlDataSource dataSource, bool commit, CancellationToken cancellationToken)
    {
        var connection = await dataSource.OpenConnectionAsync(cancellationToken);
        await using var transaction = await connection.BeginTransactionAsync(cancellationToken);
        await using var command = new MySqlCommand("select 1", connection, transaction);
        var result = (int)(long)(await command.ExecuteScalarAsync(cancellationToken))!;
        if (commit)
        {
            await transaction.CommitAsync(cancellationToken);
        }

        return result;
    }
}
