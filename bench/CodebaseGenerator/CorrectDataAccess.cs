using System;

namespace CodebaseGenerator;

/// <summary>Data-access methods that release their connection on every path: TDG001 must stay silent here.</summary>
internal static class CorrectDataAccess
{
    /// <summary>The templates with their weights (how often they are picked).</summary>
    public static readonly (int Weight, Action<GenerationContext> Emit)[] Templates =
    {
        (12, DataSourceQuery),
        (10, NewConnectionExecute),
        (6, Transaction),
        (12, PoolTryFinally),
        (10, PoolAsyncReleaseThroughPool),
        (6, CommandReader),
        (6, SyncUsingStatement),
        (3, FactoryWithSetup),
        (5, PoolNullConditionalRelease),
        (3, LeaseWrapper),
        (5, ConfigureAwaitUsingStatement),
        (2, OpenAndReturn),
        (4, PoolTransaction),
        (5, PoolCatchAndRethrow),
        (3, ParallelRefresh),
    };

    private static void DataSourceQuery(GenerationContext c)
    {
        var e = c.Entity;
        var v = c.ConnectionVariable();
        var w = c.W;
        w.Line();
        w.Open($"public async Task<IReadOnlyList<{e.Dto}>> {c.MethodName("List" + e.Plural + "ByStatus")}({e.Status} status, CancellationToken cancellationToken)");
        w.Line($"await using var {v} = await _dataSource.OpenConnectionAsync(cancellationToken);");
        w.Line($"var rows = await {v}.QueryAsync<{e.Row}>(");
        w.Line($"    \"SELECT {e.SelectColumns} FROM {e.Table} WHERE tenant_id = @TenantId AND status = @Status ORDER BY created_at DESC\",");
        w.Line("    new { TenantId = _tenantId, Status = (int)status });");
        w.Line($"return rows.Select({e.Mapping}.ToDto).ToList();");
        w.Close();
        c.DataAccessMethods++;
    }

    private static void NewConnectionExecute(GenerationContext c)
    {
        var e = c.Entity;
        var v = c.ConnectionVariable();
        var w = c.W;
        w.Line();
        w.Open($"public async Task<bool> {c.MethodName("Update" + e.Name + "Status")}(long id, {e.Status} status, CancellationToken cancellationToken)");
        w.Line($"await using var {v} = new MySqlConnection(_connectionString);");
        w.Line($"await {v}.OpenAsync(cancellationToken);");
        w.Line($"var affected = await {v}.ExecuteAsync(");
        w.Line($"    \"UPDATE {e.Table} SET status = @Status, updated_at = UTC_TIMESTAMP() WHERE id = @Id AND tenant_id = @TenantId\",");
        w.Line("    new { Id = id, Status = (int)status, TenantId = _tenantId });");
        w.Line("return affected == 1;");
        w.Close();
        c.DataAccessMethods++;
    }

    private static void Transaction(GenerationContext c)
    {
        var e = c.Entity;
        var v = c.ConnectionVariable();
        var w = c.W;
        w.Line();
        w.Open($"public async Task<int> {c.MethodName("Archive" + e.Plural)}(IReadOnlyCollection<long> ids, CancellationToken cancellationToken)");
        w.Open("if (ids.Count == 0)");
        w.Line("return 0;");
        w.Close();
        w.Line();
        w.Line($"await using var {v} = await _dataSource.OpenConnectionAsync(cancellationToken);");
        w.Line($"await using var transaction = await {v}.BeginTransactionAsync(cancellationToken);");
        w.Line("var archived = 0;");
        w.Open("foreach (var id in ids)");
        w.Line($"await {v}.ExecuteAsync(\"INSERT INTO {e.Table}_archive SELECT * FROM {e.Table} WHERE id = @Id AND tenant_id = @TenantId\", new {{ Id = id, TenantId = _tenantId }}, transaction);");
        w.Line($"archived += await {v}.ExecuteAsync(\"DELETE FROM {e.Table} WHERE id = @Id AND tenant_id = @TenantId\", new {{ Id = id, TenantId = _tenantId }}, transaction);");
        w.Close();
        w.Line();
        w.Line("await transaction.CommitAsync(cancellationToken);");
        w.Line("return archived;");
        w.Close();
        c.DataAccessMethods++;
    }

    private static void PoolTryFinally(GenerationContext c)
    {
        var e = c.Entity;
        var v = c.ConnectionVariable();
        var w = c.W;
        w.Line();
        w.Open($"public int {c.MethodName("Count" + e.Plural, "")}({e.Status} status)");
        w.Line($"var {v} = _pool.GetConnection();");
        w.Open("try");
        w.Line($"return {v}.ExecuteScalar<int>(\"SELECT COUNT(*) FROM {e.Table} WHERE tenant_id = @TenantId AND status = @Status\", new {{ TenantId = _tenantId, Status = (int)status }});");
        w.Close();
        w.Open("finally");
        w.Line($"{v}.Release();");
        w.Close();
        w.Close();
        c.DataAccessMethods++;
    }

    private static void PoolAsyncReleaseThroughPool(GenerationContext c)
    {
        var e = c.Entity;
        var v = c.ConnectionVariable();
        var w = c.W;
        w.Line();
        w.Open($"public async Task<{e.Dto}?> {c.MethodName("Find" + e.Name)}(long id, CancellationToken cancellationToken)");
        w.Line($"var {v} = await _pool.GetConnectionAsync(cancellationToken);");
        w.Open("try");
        w.Line($"var row = await {v}.QueryFirstOrDefaultAsync<{e.Row}>(");
        w.Line($"    \"SELECT {e.SelectColumns} FROM {e.Table} WHERE id = @Id AND tenant_id = @TenantId\",");
        w.Line("    new { Id = id, TenantId = _tenantId });");
        w.Line($"return row is null ? null : {e.Mapping}.ToDto(row);");
        w.Close();
        w.Open("finally");
        w.Line($"_pool.Release({v});");
        w.Close();
        w.Close();
        c.DataAccessMethods++;
    }

    private static void CommandReader(GenerationContext c)
    {
        var e = c.Entity;
        var v = c.ConnectionVariable();
        var w = c.W;
        w.Line();
        w.Open($"public async Task<Dictionary<long, string>> {c.MethodName("Load" + e.Name + "Names")}(CancellationToken cancellationToken)");
        w.Line("var names = new Dictionary<long, string>();");
        w.Line($"await using var {v} = await _dataSource.OpenConnectionAsync(cancellationToken);");
        w.Line($"await using var command = new MySqlCommand(\"SELECT id, name FROM {e.Table} WHERE tenant_id = @tenant\", {v});");
        w.Line("command.Parameters.AddWithValue(\"@tenant\", _tenantId);");
        w.Line("await using var reader = await command.ExecuteReaderAsync(cancellationToken);");
        w.Open("while (await reader.ReadAsync(cancellationToken))");
        w.Line("names[reader.GetInt64(0)] = reader.GetString(1);");
        w.Close();
        w.Line();
        w.Line("return names;");
        w.Close();
        c.DataAccessMethods++;
    }

    private static void SyncUsingStatement(GenerationContext c)
    {
        var e = c.Entity;
        var v = c.ConnectionVariable();
        var w = c.W;
        w.Line();
        w.Open($"public IReadOnlyList<{e.Row}> {c.MethodName("Search" + e.Plural + "ByName", "")}(string prefix)");
        w.Open($"using (var {v} = new MySqlConnection(_connectionString))");
        w.Line($"{v}.Open();");
        w.Line($"return {v}.Query<{e.Row}>(");
        w.Line($"    \"SELECT {e.SelectColumns} FROM {e.Table} WHERE tenant_id = @TenantId AND name LIKE @Prefix ORDER BY name\",");
        w.Line("    new { TenantId = _tenantId, Prefix = prefix + \"%\" }).AsList();");
        w.Close();
        w.Close();
        c.DataAccessMethods++;
    }

    private static void FactoryWithSetup(GenerationContext c)
    {
        var e = c.Entity;
        var v = c.ConnectionVariable();
        var w = c.W;
        var factory = c.MethodName("Open" + e.Name + "Connection");
        w.Line();
        w.Open($"private async Task<MySqlConnection> {factory}(CancellationToken cancellationToken)");
        w.Line($"var {v} = await _dataSource.OpenConnectionAsync(cancellationToken);");
        w.Open("try");
        w.Line($"await {v}.ExecuteAsync(\"SET SESSION time_zone = '+00:00', SESSION sql_mode = 'STRICT_ALL_TABLES'\");");
        w.Line($"return {v};");
        w.Close();
        w.Open("catch");
        w.Line($"await {v}.DisposeAsync();");
        w.Line("throw;");
        w.Close();
        w.Close();
        w.Line();
        w.Open($"public async Task<decimal> {c.MethodName("Total" + e.Name + "Amount")}(DateTime since, CancellationToken cancellationToken)");
        w.Line($"await using var {v} = await {factory}(cancellationToken);");
        w.Line($"return await {v}.ExecuteScalarAsync<decimal>(");
        w.Line($"    \"SELECT COALESCE(SUM(amount), 0) FROM {e.Table} WHERE tenant_id = @TenantId AND created_at >= @Since\",");
        w.Line("    new { TenantId = _tenantId, Since = since });");
        w.Close();
        c.DataAccessMethods += 2;
    }

    private static void PoolNullConditionalRelease(GenerationContext c)
    {
        var e = c.Entity;
        var v = c.ConnectionVariable();
        var w = c.W;
        w.Line();
        w.Open($"public async Task {c.MethodName("Touch" + e.Name)}(long id, CancellationToken cancellationToken)");
        w.Line($"PooledConnection? {v} = null;");
        w.Open("try");
        w.Line($"{v} = await _pool.GetConnectionAsync(cancellationToken);");
        w.Line($"await {v}.ExecuteAsync(\"UPDATE {e.Table} SET updated_at = UTC_TIMESTAMP() WHERE id = @Id AND tenant_id = @TenantId\", new {{ Id = id, TenantId = _tenantId }});");
        w.Close();
        w.Open("finally");
        w.Line($"{v}?.Release();");
        w.Close();
        w.Close();
        c.DataAccessMethods++;
    }

    private static void LeaseWrapper(GenerationContext c)
    {
        var e = c.Entity;
        var w = c.W;
        w.Line();
        w.Open($"public IReadOnlyList<long> {c.MethodName("List" + e.Name + "Ids", "")}(int limit)");
        w.Line("using var lease = new PoolLease(_pool.GetConnection());");
        w.Line($"return lease.Connection.Query<long>(\"SELECT id FROM {e.Table} WHERE tenant_id = @TenantId ORDER BY id LIMIT @Limit\", new {{ TenantId = _tenantId, Limit = limit }}).AsList();");
        w.Close();
        c.DataAccessMethods++;
    }

    private static void ConfigureAwaitUsingStatement(GenerationContext c)
    {
        var e = c.Entity;
        var v = c.ConnectionVariable();
        var w = c.W;
        w.Line();
        w.Open($"public async Task<decimal> {c.MethodName("Sum" + e.Name + "Amounts")}({e.Status} status, CancellationToken cancellationToken)");
        w.Open($"await using (var {v} = await _dataSource.OpenConnectionAsync(cancellationToken).ConfigureAwait(false))");
        w.Line($"var total = await {v}.ExecuteScalarAsync<decimal?>(");
        w.Line($"    \"SELECT SUM(amount) FROM {e.Table} WHERE tenant_id = @TenantId AND status = @Status\",");
        w.Line("    new { TenantId = _tenantId, Status = (int)status }).ConfigureAwait(false);");
        w.Line("return total ?? 0m;");
        w.Close();
        w.Close();
        c.DataAccessMethods++;
    }

    private static void OpenAndReturn(GenerationContext c)
    {
        var e = c.Entity;
        var v = c.ConnectionVariable();
        var w = c.W;
        w.Line();
        w.Open($"public MySqlConnection {c.MethodName("Open" + e.Name + "ReportingConnection", "")}()");
        w.Line($"var {v} = new MySqlConnection(_connectionString + \";Connection Timeout=60\");");
        w.Line($"{v}.Open();");
        w.Line($"return {v};");
        w.Close();
        c.DataAccessMethods++;
    }

    private static void PoolTransaction(GenerationContext c)
    {
        var e = c.Entity;
        var v = c.ConnectionVariable();
        var w = c.W;
        w.Line();
        w.Open($"public void {c.MethodName("Rename" + e.Name, "")}(long id, string name)");
        w.Line($"var {v} = _pool.GetConnection();");
        w.Open("try");
        w.Line($"using var transaction = {v}.Inner.BeginTransaction();");
        w.Line($"{v}.Inner.Execute(\"UPDATE {e.Table} SET name = @Name WHERE id = @Id AND tenant_id = @TenantId\", new {{ Id = id, Name = name, TenantId = _tenantId }}, transaction);");
        w.Line($"{v}.Inner.Execute(\"INSERT INTO audit_log (tenant_id, entity, entity_id, action) VALUES (@TenantId, '{e.Table}', @Id, 'rename')\", new {{ Id = id, TenantId = _tenantId }}, transaction);");
        w.Line("transaction.Commit();");
        w.Close();
        w.Open("finally");
        w.Line($"{v}.Release();");
        w.Close();
        w.Close();
        c.DataAccessMethods++;
    }

    private static void PoolCatchAndRethrow(GenerationContext c)
    {
        var e = c.Entity;
        var v = c.ConnectionVariable();
        var w = c.W;
        w.Line();
        w.Open($"public async Task<long> {c.MethodName("Insert" + e.Name)}({e.Dto} dto, CancellationToken cancellationToken)");
        w.Line($"var row = {e.Mapping}.ToRow(dto, _tenantId);");
        w.Line($"var {v} = await _pool.GetConnectionAsync(cancellationToken);");
        w.Open("try");
        w.Line($"return await {v}.ExecuteScalarAsync<long>(");
        w.Line($"    \"INSERT INTO {e.Table} (tenant_id, name, amount, status, created_at) VALUES (@TenantId, @Name, @Amount, @Status, @CreatedAt); SELECT LAST_INSERT_ID();\",");
        w.Line("    row);");
        w.Close();
        w.Open("catch (MySqlException ex) when (ex.ErrorCode == MySqlErrorCode.DuplicateKeyEntry)");
        w.Line($"throw new InvalidOperationException($\"{e.Name} '{{dto.Name}}' already exists for tenant '{{_tenantId}}'.\", ex);");
        w.Close();
        w.Open("finally");
        w.Line($"{v}.Release();");
        w.Close();
        w.Close();
        c.DataAccessMethods++;
    }

    private static void ParallelRefresh(GenerationContext c)
    {
        var e = c.Entity;
        var v = c.ConnectionVariable();
        var w = c.W;
        w.Line();
        w.Open($"public Task {c.MethodName("Refresh" + e.Name + "Totals")}(IEnumerable<long> ids, CancellationToken cancellationToken)");
        w.Line("return Parallel.ForEachAsync(ids, cancellationToken, async (id, ct) =>");
        w.Line("{");
        w.Line($"    await using var {v} = await _dataSource.OpenConnectionAsync(ct);");
        w.Line($"    await {v}.ExecuteAsync(\"CALL refresh_{EntityModel.ToSnakeCase(e.Name)}_totals(@TenantId, @Id)\", new {{ TenantId = _tenantId, Id = id }});");
        w.Line("});");
        w.Close();
        c.DataAccessMethods++;
    }
}
