using System.Net;
using System.Net.Security;
using System.Security.Cryptography;
using System.Security.Cryptography.X509Certificates;
using Dapper;
using MySqlConnector;
using TenantDbGuard.Runtime.Tests.Infrastructure;
using static TenantDbGuard.Runtime.Tests.Infrastructure.MarkedTenants;

namespace TenantDbGuard.Runtime.Tests;

/// <summary>
/// The certificate callbacks of <see cref="TenantDatabaseBuilder"/> against a server that speaks TLS with a certificate
/// no machine trusts and an account that must show a client certificate: without the callbacks reaching every
/// connection the runtime opens (the tenants lookup's and each tenant's), nothing connects.
/// </summary>
[Collection(MariaDbCollection.Name)]
public sealed class TenantDatabaseTlsTests : IAsyncLifetime
{
    /// <summary>An account that the server lets in only with a client certificate its certificate authority signed.</summary>
    private const string CertificateUser = "tdg_x509";
    private const string CertificatePassword = "tdg_x509_password";
    private const int Budget = 3;

    private readonly string _directory = Directory.CreateTempSubdirectory("tdg-tls-").FullName;
    private X509Certificate2 _authority = null!;
    private X509Certificate2 _serverCertificate = null!;
    private X509Certificate2 _clientCertificate = null!;
    private MariaDbServer _server = null!;

    public async Task InitializeAsync()
    {
        var now = DateTimeOffset.UtcNow;
        using var authorityKey = RSA.Create(2048);
        var authorityRequest = new CertificateRequest("CN=TenantDbGuard test authority", authorityKey, HashAlgorithmName.SHA256, RSASignaturePadding.Pkcs1);
        authorityRequest.CertificateExtensions.Add(new X509BasicConstraintsExtension(true, false, 0, true));
        authorityRequest.CertificateExtensions.Add(new X509KeyUsageExtension(X509KeyUsageFlags.KeyCertSign | X509KeyUsageFlags.CrlSign, true));
        _authority = authorityRequest.CreateSelfSigned(now.AddDays(-1), now.AddDays(7));

        (_serverCertificate, var serverKeyPem) = Issue("CN=127.0.0.1", serverAuthentication: true, serial: 1);
        (_clientCertificate, _) = Issue($"CN={CertificateUser}", serverAuthentication: false, serial: 2);

        var authorityFile = Path.Combine(_directory, "ca.pem");
        var certificateFile = Path.Combine(_directory, "server-cert.pem");
        var keyFile = Path.Combine(_directory, "server-key.pem");
        await File.WriteAllTextAsync(authorityFile, _authority.ExportCertificatePem());
        await File.WriteAllTextAsync(certificateFile, _serverCertificate.ExportCertificatePem());
        await File.WriteAllTextAsync(keyFile, serverKeyPem);

        _server = await MariaDbServer.StartAsync(20, [$"--ssl-ca={authorityFile}", $"--ssl-cert={certificateFile}", $"--ssl-key={keyFile}"]);
        await CreateAsync(_server);
        await _server.ExecuteAsync(
            $"""
            CREATE USER '{CertificateUser}'@'%' IDENTIFIED BY '{CertificatePassword}' REQUIRE X509;
            GRANT ALL PRIVILEGES ON `%`.* TO '{CertificateUser}'@'%';
            """);

        (X509Certificate2 Certificate, string KeyPem) Issue(string subject, bool serverAuthentication, byte serial)
        {
            using var key = RSA.Create(2048);
            var request = new CertificateRequest(subject, key, HashAlgorithmName.SHA256, RSASignaturePadding.Pkcs1);
            request.CertificateExtensions.Add(new X509BasicConstraintsExtension(false, false, 0, true));
            request.CertificateExtensions.Add(new X509EnhancedKeyUsageExtension(
                [serverAuthentication ? new Oid("1.3.6.1.5.5.7.3.1") : new Oid("1.3.6.1.5.5.7.3.2")], false));
            if (serverAuthentication)
            {
                var names = new SubjectAlternativeNameBuilder();
                names.AddIpAddress(IPAddress.Loopback);
                request.CertificateExtensions.Add(names.Build());
            }

            using var issued = request.Create(_authority, now.AddDays(-1), now.AddDays(6), [serial]);
            using var withKey = issued.CopyWithPrivateKey(key);

            // Loaded back from PKCS#12 so that TLS on every platform can use the private key.
#if NET9_0_OR_GREATER
            return (X509CertificateLoader.LoadPkcs12(withKey.Export(X509ContentType.Pkcs12), null), key.ExportPkcs8PrivateKeyPem());
#else
            return (new X509Certificate2(withKey.Export(X509ContentType.Pkcs12)), key.ExportPkcs8PrivateKeyPem());
#endif
        }
    }

    public async Task DisposeAsync()
    {
        if (_server is not null)
        {
            await _server.DisposeAsync();
        }

        _authority?.Dispose();
        _serverCertificate?.Dispose();
        _clientCertificate?.Dispose();
        Directory.Delete(_directory, recursive: true);
    }

    [Fact]
    public async Task The_certificate_callbacks_reach_the_tenants_lookup_and_every_tenant_connection()
    {
        var validated = 0;
        var presented = 0;
        await using var db = Build(
            (_, certificate, _, _) =>
            {
                Interlocked.Increment(ref validated);
                return certificate?.GetCertHashString() == _serverCertificate.GetCertHashString();
            },
            certificates =>
            {
                Interlocked.Increment(ref presented);
                certificates.Add(_clientCertificate);
                return default;
            });

        for (var i = 0; i < Count; i++)
        {
            Assert.Equal(Key(i), await db.ExecuteScalarTenantAsync<string>(Key(i), "SELECT tenant FROM marker"));
        }

        // Each physical connection has a data source of its own: hold the whole budget at once, so that every one of them
        // is in use, and each must have been opened over TLS with both callbacks.
        var leases = new List<TenantConnectionLease>();
        try
        {
            for (var i = 0; i < Budget; i++)
            {
                var lease = await db.GetConnectionAsync(Key(i));
                leases.Add(lease);
                Assert.Equal(Key(i), await lease.Connection.ExecuteScalarAsync<string>("SELECT tenant FROM marker"));
                Assert.NotEqual("", await lease.Connection.ExecuteScalarAsync<string>(
                    "SELECT VARIABLE_VALUE FROM information_schema.SESSION_STATUS WHERE VARIABLE_NAME = 'Ssl_cipher'"));
                Assert.Equal(CertificateUser, await lease.Connection.ExecuteScalarAsync<string>("SELECT SUBSTRING_INDEX(USER(), '@', 1)"));
            }
        }
        finally
        {
            foreach (var lease in leases)
            {
                await lease.DisposeAsync();
            }
        }

        Assert.InRange(validated, Budget, int.MaxValue);
        Assert.InRange(presented, Budget, int.MaxValue);
    }

    [Fact]
    public async Task A_server_certificate_the_callback_rejects_fails_the_call_and_nothing_is_sent()
    {
        var validated = 0;
        await using var db = Build(
            (_, _, _, _) =>
            {
                Interlocked.Increment(ref validated);
                return false;
            },
            certificates =>
            {
                certificates.Add(_clientCertificate);
                return default;
            });

        var error = await Assert.ThrowsAnyAsync<TenantDbGuardException>(() => db.ExecuteTenantAsync(Key(0), "INSERT INTO items (owner) VALUES ('rejected')"));
        Assert.True(validated > 0, error.ToString());
        await using var root = await _server.OpenConnectionAsync();
        Assert.Equal(0, await root.ExecuteScalarAsync<long>($"SELECT COUNT(*) FROM {Database(0)}.items WHERE owner = 'rejected'"));

        // The failed open stays counted a moment (the server may have had a session for it), then not at all.
        var watch = System.Diagnostics.Stopwatch.StartNew();
        while (db.GetBudgetSnapshot().Open != 0 && watch.Elapsed < TimeSpan.FromSeconds(15))
        {
            await Task.Delay(20);
        }

        Assert.Equal(0, db.GetBudgetSnapshot().Open);
    }

    [Fact]
    public async Task Without_a_client_certificate_the_account_that_requires_one_is_refused()
    {
        await using var db = Build(
            (_, certificate, _, _) => certificate?.GetCertHashString() == _serverCertificate.GetCertHashString(),
            provideCertificates: null);

        // The server refuses the account itself: a typed error that says what to check, TLS and certificates among it.
        var error = await Assert.ThrowsAsync<ServerAccessDeniedException>(() => db.ExecuteScalarTenantAsync<string>(Key(0), "SELECT tenant FROM marker"));
        Assert.Contains("Access denied", error.Message, StringComparison.Ordinal);
        Assert.Contains("client certificate", error.Message, StringComparison.Ordinal);
    }

    private TenantDatabase Build(RemoteCertificateValidationCallback validate, Func<X509CertificateCollection, ValueTask>? provideCertificates)
    {
        var connectionString = new MySqlConnectionStringBuilder
        {
            Server = "127.0.0.1",
            Port = (uint)_server.Port,
            UserID = CertificateUser,
            Password = CertificatePassword,
            Database = MariaDbFixture.MasterDatabase,
            // MySqlConnector hands the server's certificate to the callback only in these modes (Required, Preferred).
            SslMode = MySqlSslMode.Required,
            ConnectionTimeout = 5,
        }.ConnectionString;
        var builder = new TenantDatabaseBuilder(connectionString)
            .ConfigureOptions(o =>
            {
                o.MaxConnections = Budget;
                o.AcquireTimeout = TimeSpan.FromSeconds(10);
            })
            .UseRemoteCertificateValidationCallback(validate);
        return (provideCertificates is null ? builder : builder.UseClientCertificatesCallback(provideCertificates)).Build();
    }
}
