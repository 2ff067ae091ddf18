using System;
using System.Collections.Generic;
using System.Globalization;

namespace TenantDbGuard.Bench;

/// <summary>The command and its <c>--name value</c> options.</summary>
internal sealed class Arguments
{
    public const string Usage =
        """
        usage: dotnet run -c Release --project bench/Runtime.Bench -- <command> [options]
          storm     [--seconds 30] [--tenants 300] [--workers 32] [--max-connections 151] [--csv artifacts/storm.csv] [--modes raw,runtime] [--hot-percent 0] [--table-cache N] [--warmup 0] [--alloc-types on|off]
                    raw MySqlConnector (one pool per tenant database), single (MySqlConnector, every query on tenant 1's
                    pool), switch (MySqlConnector, one pool, a USE of a random tenant in each query's batch: the server's
                    work of the runtime without its guarantees) and TenantDbGuard.Runtime, same load, one after the other;
                    --hot-percent sends that share of the queries to tenant 1 and prints its p50/p99 latency apart;
                    --table-cache sets the server's table_open_cache and table_definition_cache (to tell the server's
                    table cache apart from the runtime with many tenants); --warmup runs the load that many seconds
                    before the measured run (every tenant seen once: the steady state); --alloc-types on prints the
                    bytes allocated per query by type, sampled (timings of that run are not comparable)
          instances N [--seconds 20] [--tenants 300] [--workers 32] [--max-connections 151] [--coordinate on|off]
                    N child processes of this program, each TenantDbGuard.Runtime with default options, against one server
          overhead  [--seconds 10] [--rounds 6] [--workers 4] [--warmup 3] [--probe-ops 5000]
                    single-tenant throughput: raw vs runtime helper vs runtime lease (and raw vs lease without the session reset), alternating rounds
          killcut   [--seconds 10]
                    what an outside KILL QUERY does to each shape of the tenant lookup: runs that gave the full answer,
                    the server's error 1317, or a cut-short answer with no error
          switchcost [--seconds 6] [--rounds 3] [--tenants 300] [--workers 32]
                    what the server and the client pay per query for its tenant's database, with no pool: one database,
                    a reset after each query, a USE in the query's batch (the same database, a random tenant's), the
                    table named by its schema; each worker on a connection of its own, the shapes taking turns
        """;

    private readonly Dictionary<string, string> _options = new(StringComparer.Ordinal);

    public Arguments(string[] args)
    {
        Command = args.Length > 0 ? args[0] : string.Empty;
        var first = 1;
        if (args.Length > 1 && !args[1].StartsWith("--", StringComparison.Ordinal))
        {
            Positional = args[1];
            first = 2;
        }

        for (var i = first; i < args.Length; i += 2)
        {
            if (!args[i].StartsWith("--", StringComparison.Ordinal) || i + 1 >= args.Length)
            {
                throw new ArgumentException($"Expected '--name value', got '{args[i]}'.");
            }

            _options[args[i]] = args[i + 1];
        }
    }

    public string Command { get; }

    /// <summary>The value right after the command (<c>instances 4</c>), if any.</summary>
    public string? Positional { get; }

    /// <summary>The value right after the command as a positive whole number.</summary>
    public int GetPositionalInt(string what) =>
        int.TryParse(Positional, NumberStyles.Integer, CultureInfo.InvariantCulture, out var value) && value > 0
            ? value
            : throw new ArgumentException($"{what} must be a positive whole number, got '{Positional}'.");

    public int GetInt(string name, int defaultValue)
    {
        if (!_options.TryGetValue(name, out var text))
        {
            return defaultValue;
        }

        return int.TryParse(text, NumberStyles.Integer, CultureInfo.InvariantCulture, out var value) && value > 0
            ? value
            : throw new ArgumentException($"{name} must be a positive whole number, got '{text}'.");
    }

    /// <summary>A whole number from 0 to 99.</summary>
    public int GetPercent(string name)
    {
        if (!_options.TryGetValue(name, out var text))
        {
            return 0;
        }

        return int.TryParse(text, NumberStyles.Integer, CultureInfo.InvariantCulture, out var value) && value is >= 0 and < 100
            ? value
            : throw new ArgumentException($"{name} must be a whole number from 0 to 99, got '{text}'.");
    }

    public string GetString(string name, string defaultValue) => _options.TryGetValue(name, out var text) ? text : defaultValue;

    /// <summary>An option that is <c>on</c> or <c>off</c>; anything else is refused rather than read as one of them.</summary>
    public bool GetSwitch(string name, bool defaultValue) => _options.TryGetValue(name, out var text)
        ? text switch
        {
            "on" => true,
            "off" => false,
            _ => throw new ArgumentException($"{name} takes 'on' or 'off', got '{text}'."),
        }
        : defaultValue;
}
