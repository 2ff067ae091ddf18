using System;
using System.Collections.Generic;
using System.Threading;
using System.Threading.Tasks;
using Dapper;
using MySqlConnector;

namespace ValidCode;

/// <summary>The little a request handler needs: the tenant, a cancellation token, a place for the result.</summary>
public sealed class RequestContext(string tenant, CancellationToken aborted)
{
    public string Tenant { get; } = tenant;

    public CancellationToken Aborted { get; } = aborted;

    public object? Result { get; set; }

    public IDictionary<string, object?> Items { get; } = new Dictionary<string, object?>(StringComparer.Ordinal);
}

/// <summary>Endpoints in the style of minimal APIs: lambdas mapped to routes, and a filter around them.</summary>
public sealed class EndpointTable(TenantDataSources sources)
{
    private readonly Dictionary<string, Func<RequestContext, Task>> _routes = new(StringComparer.Ordinal);

    public void MapAll()
    {
        _routes["/orders/count"] = async context =>
        {
            await using var connection = await sources.GetDataSource(context.Tenant)
                .OpenConnectionAsync(context.Aborted).ConfigureAwait(false);
            context.Result = await connection.ExecuteScalarAsync<long>("SELECT COUNT(*) FROM orders")
                .ConfigureAwait(false);
        };
        _routes["/health"] = HealthAsync;
        _routes["/orders/latest"] = WithTiming(async context =>
        {
            var connection = await sources.GetDataSource(context.Tenant).OpenConnectionAsync(context.Aborted)
                .ConfigureAwait(false);
            try
            {
                context.Result = await connection.QueryFirstOrDefaultAsync<long?>(
                    "SELECT MAX(id) FROM orders").ConfigureAwait(false);
            }
            finally
            {
                await connection.CloseAsync().ConfigureAwait(false);
                await connection.DisposeAsync().ConfigureAwait(false);
            }
        });
    }

    public Task HandleAsync(string route, RequestContext context) =>
        _routes.TryGetValue(route, out var handler) ? handler(context) : Task.CompletedTask;

    private async Task HealthAsync(RequestContext context)
    {
        try
        {
            await using var connection = await sources.Master.OpenConnectionAsync(context.Aborted)
                .ConfigureAwait(false);
            context.Result = await connection.PingAsync(context.Aborted).ConfigureAwait(false);
        }
        catch (MySqlException e) when (!context.Aborted.IsCancellationRequested)
        {
            context.Result = e.Message;
        }
    }

    private static Func<RequestContext, Task> WithTiming(Func<RequestContext, Task> next) => async context =>
    {
        var started = DateTime.UtcNow;
        try
        {
            await next(context).ConfigureAwait(false);
        }
        finally
        {
            context.Items["elapsed"] = DateTime.UtcNow - started;
        }
    };
}

/// <summary>A filter that opens the tenant's connection once per request and releases it after the handler.</summary>
public sealed class ConnectionPerRequestFilter(TenantDataSources sources)
{
    public async Task InvokeAsync(RequestContext context, Func<RequestContext, MySqlConnection, Task> next)
    {
        await using var connection = await sources.GetDataSource(context.Tenant).OpenConnectionAsync(context.Aborted)
            .ConfigureAwait(false);
        context.Items["db"] = connection.Database;
        await next(context, connection).ConfigureAwait(false);
    }
}
