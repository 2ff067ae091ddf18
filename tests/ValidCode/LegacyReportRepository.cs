using System;
using System.Collections.Generic;
using System.Data;
using System.Globalization;
using System.Threading;
using System.Threading.Tasks;
using Dapper;
using MySqlConnector;

namespace ValidCode;

public sealed record ReportLine(string Product, int Quantity, decimal Amount)
{
    public string Format() => string.Create(CultureInfo.InvariantCulture, $"{Product,-30} {Quantity,6} {Amount,12:0.00}");
}

/// <summary>Older reporting code that works on connection strings rather than data sources.</summary>
public sealed class LegacyReportRepository
{
    private readonly string _connectionString;

    public LegacyReportRepository(string connectionString)
    {
        ArgumentException.ThrowIfNullOrWhiteSpace(connectionString);
        _connectionString = connectionString;
    }

    public IReadOnlyList<ReportLine> LoadDailyTotals(DateOnly day)
    {
        var lines = new List<ReportLine>();
        using (var conn = new MySqlConnection(_connectionString))
        {
            conn.Open();
            using (var cmd = new MySqlCommand(
                "SELECT product, SUM(quantity), SUM(amount) FROM sales WHERE sale_date = @day GROUP BY product ORDER BY product", conn))
            {
                cmd.Parameters.AddWithValue("@day", day.ToDateTime(TimeOnly.MinValue));
                using (var reader = cmd.ExecuteReader())
                {
                    while (reader.Read())
                    {
                        lines.Add(new ReportLine(reader.GetString(0), reader.GetInt32(1), reader.GetDecimal(2)));
                    }
                }
            }
        }

        return lines;
    }

    public int PurgeExpired(DateTime cutoff)
    {
        if (cutoff > DateTime.UtcNow)
        {
            throw new ArgumentOutOfRangeException(nameof(cutoff), cutoff, "The cutoff must lie in the past.");
        }

        var conn = new MySqlConnection(_connectionString);
        try
        {
            conn.Open();
            return conn.Execute("DELETE FROM report_cache WHERE created_at < @cutoff", new { cutoff });
        }
        finally
        {
            if (conn.State == ConnectionState.Open)
            {
                conn.Close();
            }
        }
    }

    public long CountSales()
    {
        using var conn = new MySqlConnection(_connectionString);
        conn.Open();
        return conn.ExecuteScalar<long>("SELECT COUNT(*) FROM sales");
    }

    public async Task<decimal> TotalRevenueAsync(int year, CancellationToken cancellationToken)
    {
        await using var conn = new MySqlConnection(_connectionString);
        await conn.OpenAsync(cancellationToken);
        return await conn.ExecuteScalarAsync<decimal>(new CommandDefinition(
            "SELECT COALESCE(SUM(amount), 0) FROM sales WHERE YEAR(sale_date) = @year", new { year }, cancellationToken: cancellationToken));
    }

    public string ServerVersion()
    {
        var conn = new MySqlConnection(_connectionString);
        using (conn)
        {
            conn.Open();
            return conn.ServerVersion;
        }
    }

    public void RebuildSummary(int year)
    {
        var conn = new MySqlConnection(_connectionString);
        try
        {
            conn.Open();
            conn.Execute("DELETE FROM sales_summary WHERE year = @year", new { year });
            conn.Execute(
                "INSERT INTO sales_summary (year, product, amount) SELECT @year, product, SUM(amount) FROM sales WHERE YEAR(sale_date) = @year GROUP BY product",
                new { year });
        }
        finally
        {
            conn.Dispose();
        }
    }
}

/// <summary>
/// A reporting session that keeps one connection for a series of report queries; it opens the connection when it is
/// created and closes it when disposed.
/// </summary>
public sealed class ReportingSession : IDisposable
{
    private readonly MySqlConnection _connection;
    private int _queries;

    public ReportingSession(MySqlDataSource dataSource, int commandTimeoutSeconds = 120)
    {
        ArgumentOutOfRangeException.ThrowIfNegativeOrZero(commandTimeoutSeconds);
        CommandTimeout = commandTimeoutSeconds;
        _connection = dataSource.OpenConnection();
    }

    public int CommandTimeout { get; }

    public int QueryCount => _queries;

    public IReadOnlyList<T> Query<T>(string sql, object? param = null)
    {
        _queries++;
        return _connection.Query<T>(sql, param, commandTimeout: CommandTimeout).AsList();
    }

    public void Dispose() => _connection.Dispose();
}

/// <summary>Opens its connection on first use.</summary>
public sealed class LazyReportConnection : IDisposable
{
    private readonly MySqlDataSource _dataSource;
    private MySqlConnection? _connection;

    public LazyReportConnection(MySqlDataSource dataSource) => _dataSource = dataSource;

    public MySqlConnection Connection => _connection ??= _dataSource.OpenConnection();

    public bool IsOpen => _connection is { State: ConnectionState.Open };

    public void Dispose()
    {
        _connection?.Dispose();
        _connection = null;
    }
}
