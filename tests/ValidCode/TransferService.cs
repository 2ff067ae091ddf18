using System;
using System.Data;
using System.Threading;
using System.Threading.Tasks;
using Dapper;
using MySqlConnector;

namespace ValidCode;

public sealed class InsufficientCreditException : Exception
{
    public InsufficientCreditException(long accountId, decimal balance, decimal requested)
        : base($"Account {accountId} has {balance:0.00} credit; {requested:0.00} was requested.")
    {
        AccountId = accountId;
    }

    public long AccountId { get; }
}

public sealed class TransferService
{
    private readonly TenantDataSources _dataSources;

    public TransferService(TenantDataSources dataSources) => _dataSources = dataSources;

    public async Task TransferCreditAsync(string tenant, long fromAccount, long toAccount, decimal amount, CancellationToken cancellationToken)
    {
        ArgumentOutOfRangeException.ThrowIfNegativeOrZero(amount);
        if (fromAccount == toAccount)
        {
            throw new ArgumentException("Source and target account are the same.", nameof(toAccount));
        }

        await using var conn = await _dataSources.GetDataSource(tenant).OpenConnectionAsync(cancellationToken);
        await using var tx = await conn.BeginTransactionAsync(IsolationLevel.RepeatableRead, cancellationToken);
        try
        {
            var balance = await conn.ExecuteScalarAsync<decimal>(new CommandDefinition(
                "SELECT credit FROM accounts WHERE id = @fromAccount FOR UPDATE", new { fromAccount }, tx, cancellationToken: cancellationToken));
            if (balance < amount)
            {
                throw new InsufficientCreditException(fromAccount, balance, amount);
            }

            await conn.ExecuteAsync(new CommandDefinition(
                "UPDATE accounts SET credit = credit - @amount WHERE id = @fromAccount", new { amount, fromAccount }, tx, cancellationToken: cancellationToken));
            await conn.ExecuteAsync(new CommandDefinition(
                "UPDATE accounts SET credit = credit + @amount WHERE id = @toAccount", new { amount, toAccount }, tx, cancellationToken: cancellationToken));
            await tx.CommitAsync(cancellationToken);
        }
        catch
        {
            await tx.RollbackAsync(CancellationToken.None);
            throw;
        }
    }

    /// <summary>Retries <see cref="TransferCreditAsync"/> when InnoDB picks this transaction as a deadlock victim.</summary>
    public async Task TransferCreditWithRetryAsync(string tenant, long fromAccount, long toAccount, decimal amount, CancellationToken cancellationToken)
    {
        for (var attempt = 1; ; attempt++)
        {
            try
            {
                await TransferCreditAsync(tenant, fromAccount, toAccount, amount, cancellationToken);
                return;
            }
            catch (MySqlException ex) when (ex.ErrorCode is MySqlErrorCode.LockDeadlock or MySqlErrorCode.LockWaitTimeout && attempt < 3)
            {
                await Task.Delay(TimeSpan.FromMilliseconds(50 * attempt), cancellationToken);
            }
        }
    }

    public async Task<decimal> GetBalanceAsync(string tenant, long accountId, CancellationToken cancellationToken)
    {
        for (var attempt = 1; ; attempt++)
        {
            try
            {
                await using var conn = await _dataSources.GetDataSource(tenant).OpenConnectionAsync(cancellationToken);
                return await conn.ExecuteScalarAsync<decimal>(new CommandDefinition(
                    "SELECT credit FROM accounts WHERE id = @accountId", new { accountId }, cancellationToken: cancellationToken));
            }
            catch (MySqlException ex) when (ex.IsTransient && attempt < 3)
            {
                await Task.Delay(TimeSpan.FromMilliseconds(100 * attempt), cancellationToken);
            }
        }
    }

    public async Task<bool> TryReserveAsync(string tenant, long accountId, decimal amount, CancellationToken cancellationToken)
    {
        await using var conn = await _dataSources.GetDataSource(tenant).OpenConnectionAsync(cancellationToken);
        await using var tx = await conn.BeginTransactionAsync(cancellationToken);
        var reserved = await conn.ExecuteAsync(new CommandDefinition(
            "UPDATE accounts SET credit = credit - @amount, reserved = reserved + @amount WHERE id = @accountId AND credit >= @amount",
            new { amount, accountId },
            tx,
            cancellationToken: cancellationToken));
        if (reserved == 0)
        {
            await tx.RollbackAsync(cancellationToken);
            return false;
        }

        await tx.CommitAsync(cancellationToken);
        return true;
    }

    public void ArchiveClosedAccounts(string tenant, DateTime closedBefore)
    {
        using (var conn = _dataSources.GetDataSource(tenant).OpenConnection())
        using (var tx = conn.BeginTransaction())
        {
            conn.Execute("INSERT INTO accounts_archive SELECT * FROM accounts WHERE closed_at < @closedBefore", new { closedBefore }, tx);
            conn.Execute("DELETE FROM accounts WHERE closed_at < @closedBefore", new { closedBefore }, tx);
            tx.Commit();
        }
    }

    public async Task AdjustAsync(string tenant, long accountId, decimal delta, string reason, CancellationToken cancellationToken)
    {
        ArgumentException.ThrowIfNullOrWhiteSpace(reason);
        MySqlConnection? conn = null;
        MySqlTransaction? tx = null;
        try
        {
            conn = await _dataSources.GetDataSource(tenant).OpenConnectionAsync(cancellationToken);
            tx = await conn.BeginTransactionAsync(cancellationToken);
            await conn.ExecuteAsync(new CommandDefinition(
                "UPDATE accounts SET credit = credit + @delta WHERE id = @accountId", new { delta, accountId }, tx, cancellationToken: cancellationToken));
            await conn.ExecuteAsync(new CommandDefinition(
                "INSERT INTO account_adjustments (account_id, delta, reason) VALUES (@accountId, @delta, @reason)",
                new { accountId, delta, reason = reason.Trim() },
                tx,
                cancellationToken: cancellationToken));
            await tx.CommitAsync(cancellationToken);
        }
        finally
        {
            try
            {
                if (tx is not null)
                {
                    await tx.DisposeAsync();
                }
            }
            finally
            {
                if (conn != null)
                {
                    await conn.DisposeAsync();
                }
            }
        }
    }
}
