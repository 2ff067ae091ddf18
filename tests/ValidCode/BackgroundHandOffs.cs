using System;
using System.Threading;
using System.Threading.Tasks;
using Dapper;
using MySqlConnector;

namespace ValidCode;

public sealed class BackgroundHandOffs
{
    private readonly TenantConnectionFactory _factory;

    public BackgroundHandOffs(TenantConnectionFactory factory) => _factory = factory;

    public Task<int> RunA(string tenant)
    {
        var connection = _factory.Open(tenant);
        return Task.Run(() =>
        {
            using (connection)
            {
                return connection.Execute("SELECT 1");
            }
        });
    }

    public void RunC(string tenant)
    {
        var connection = _factory.Open(tenant);
        _ = Task.Run(async () =>
        {
            await using (connection)
            {
                await connection.ExecuteAsync("SELECT 1");
            }
        });
    }

    public Task<int> RunD(string tenant)
    {
        var connection = _factory.Open(tenant);
        return Task.Run(() =>
        {
            try
            {
                return connection.Execute("SELECT 1");
            }
            finally
            {
                connection.Dispose();
            }
        });
    }
}
