using System.Threading;
using System.Threading.Tasks;
using System.Transactions;
using Dapper;
using MySqlConnector;

namespace ValidCode;

/// <summary>Work in a <see cref="TransactionScope"/>: connections enlist on open and are released inside it.</summary>
public sealed class AmbientTransfers(TenantDataSources sources)
{
    public async Task MoveAsync(string tenant, long from, long to, decimal amount, CancellationToken ct)
    {
        using var scope = new TransactionScope(TransactionScopeAsyncFlowOption.Enabled);
        await using (var connection = await sources.GetDataSource(tenant).OpenConnectionAsync(ct).ConfigureAwait(false))
        {
            await connection.ExecuteAsync("UPDATE accounts SET balance = balance - @amount WHERE id = @from",
                new { amount, from }).ConfigureAwait(false);
            await connection.ExecuteAsync("UPDATE accounts SET balance = balance + @amount WHERE id = @to",
                new { amount, to }).ConfigureAwait(false);
        }

        scope.Complete();
    }

    public void CopyTenant(string source, string target)
    {
        var options = new TransactionOptions { IsolationLevel = IsolationLevel.ReadCommitted };
        using (var scope = new TransactionScope(TransactionScopeOption.Required, options))
        {
            using var reader = sources.GetDataSource(source).OpenConnection();
            using var writer = sources.GetDataSource(target).OpenConnection();
            var names = reader.Query<string>("SELECT name FROM settings");
            foreach (var name in names)
            {
                writer.Execute("INSERT IGNORE INTO settings (name) VALUES (@name)", new { name });
            }

            scope.Complete();
        }
    }
}
