namespace CodebaseGenerator;

/// <summary>The files around the generated sources: project, pool-shaped API and the CA2000 configuration.</summary>
internal static class ProjectFiles
{
    /// <summary>
    /// The project imports no Directory.Build.props/targets or Directory.Packages.props from the folders above it,
    /// so it builds the same wherever it is generated. <c>-p:WithTdg=true -p:TdgAnalyzerPath=...</c> adds the
    /// analyzer; <c>-p:WithCa2000=true</c> turns on CA2000 with the all-paths dispose analysis.
    /// </summary>
    public const string Project = """
        <Project>
          <PropertyGroup>
            <ImportDirectoryBuildProps>false</ImportDirectoryBuildProps>
            <ImportDirectoryBuildTargets>false</ImportDirectoryBuildTargets>
            <ImportDirectoryPackagesProps>false</ImportDirectoryPackagesProps>
          </PropertyGroup>
          <Import Project="Sdk.props" Sdk="Microsoft.NET.Sdk" />
          <PropertyGroup>
            <TargetFramework>net10.0</TargetFramework>
            <OutputType>Library</OutputType>
            <LangVersion>latest</LangVersion>
            <Nullable>enable</Nullable>
            <ImplicitUsings>disable</ImplicitUsings>
            <TreatWarningsAsErrors>false</TreatWarningsAsErrors>
            <ManagePackageVersionsCentrally>false</ManagePackageVersionsCentrally>
            <IsPackable>false</IsPackable>
            <WithTdg Condition="'$(WithTdg)' == ''">false</WithTdg>
            <WithCa2000 Condition="'$(WithCa2000)' == ''">false</WithCa2000>
          </PropertyGroup>
          <ItemGroup>
            <PackageReference Include="MySqlConnector" Version="2.6.2" />
            <PackageReference Include="Dapper" Version="2.1.66" />
          </ItemGroup>
          <ItemGroup Condition="'$(WithTdg)' == 'true'">
            <Analyzer Include="$(TdgAnalyzerPath)" />
          </ItemGroup>
          <PropertyGroup Condition="'$(WithCa2000)' == 'true'">
            <EnableNETAnalyzers>true</EnableNETAnalyzers>
          </PropertyGroup>
          <ItemGroup Condition="'$(WithCa2000)' == 'true'">
            <GlobalAnalyzerConfigFiles Include="ca2000.globalconfig" />
          </ItemGroup>
          <Import Project="Sdk.targets" Sdk="Microsoft.NET.Sdk" />
        </Project>

        """;

    public const string Ca2000Config = """
        is_global = true
        dotnet_diagnostic.CA2000.severity = warning
        dotnet_code_quality.CA2000.dispose_analysis_kind = AllPaths

        """;

    public const string Infrastructure = """
        using System;
        using System.Collections.Concurrent;
        using System.Collections.Generic;
        using System.Threading;
        using System.Threading.Tasks;
        using Dapper;
        using MySqlConnector;

        namespace Shop.Infrastructure;

        /// <summary>A connection borrowed from a <see cref="TenantPool"/>; it goes back with <see cref="Release"/>.</summary>
        public sealed class PooledConnection
        {
            private readonly TenantPool _owner;

            internal PooledConnection(TenantPool owner, MySqlDataSource dataSource)
            {
                _owner = owner;
                Inner = dataSource.OpenConnection();
            }

            public MySqlConnection Inner { get; }

            public int Execute(string sql, object? param = null) => Inner.Execute(sql, param);

            public Task<int> ExecuteAsync(string sql, object? param = null) => Inner.ExecuteAsync(sql, param);

            public T? ExecuteScalar<T>(string sql, object? param = null) => Inner.ExecuteScalar<T>(sql, param);

            public Task<T?> ExecuteScalarAsync<T>(string sql, object? param = null) => Inner.ExecuteScalarAsync<T>(sql, param);

            public IEnumerable<T> Query<T>(string sql, object? param = null) => Inner.Query<T>(sql, param);

            public Task<IEnumerable<T>> QueryAsync<T>(string sql, object? param = null) => Inner.QueryAsync<T>(sql, param);

            public Task<T?> QueryFirstOrDefaultAsync<T>(string sql, object? param = null) => Inner.QueryFirstOrDefaultAsync<T>(sql, param);

            public void Release() => _owner.Return(this);
        }

        /// <summary>A per-tenant pool with a fixed number of connections.</summary>
        public sealed class TenantPool
        {
            private readonly MySqlDataSource _dataSource;
            private readonly ConcurrentBag<PooledConnection> _idle = new();
            private readonly SemaphoreSlim _gate;

            public TenantPool(MySqlDataSource dataSource, int maxConnections)
            {
                ArgumentOutOfRangeException.ThrowIfNegativeOrZero(maxConnections);
                _dataSource = dataSource;
                _gate = new SemaphoreSlim(maxConnections, maxConnections);
            }

            public int IdleCount => _idle.Count;

            public PooledConnection GetConnection()
            {
                _gate.Wait();
                return _idle.TryTake(out var connection) ? connection : new PooledConnection(this, _dataSource);
            }

            public async Task<PooledConnection> GetConnectionAsync(CancellationToken cancellationToken = default)
            {
                await _gate.WaitAsync(cancellationToken).ConfigureAwait(false);
                return _idle.TryTake(out var connection) ? connection : new PooledConnection(this, _dataSource);
            }

            public void Release(PooledConnection connection) => connection.Release();

            internal void Return(PooledConnection connection)
            {
                _idle.Add(connection);
                _gate.Release();
            }
        }

        /// <summary>Releases a pooled connection when disposed.</summary>
        public sealed class PoolLease : IDisposable
        {
            public PoolLease(PooledConnection connection)
            {
                Connection = connection;
            }

            public PooledConnection Connection { get; }

            public void Dispose() => Connection.Release();
        }

        """;
}
