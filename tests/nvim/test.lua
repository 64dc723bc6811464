-- lambda-ls driven by Neovim's built-in LSP client (0.7: vim.lsp.start_client), headless, set
-- up exactly as a user would with tests/nvim/init-0.7.lua (the README's snippet). Run by
-- tests/nvim/run, which prepares the project and the environment. Each step is recorded as
-- `PASS name` or `FAIL name: why` in $LAMBDA_LS_NVIM_RESULTS; Neovim exits non-zero when any
-- step failed. Every wait is bounded.

local function env(name)
  local value = os.getenv(name)
  assert(value and value ~= '', name .. ' is not set')
  return value
end

local SETUP = env('LAMBDA_LS_NVIM_SETUP')
local ROOT = env('LAMBDA_LS_NVIM_PROJECT')
local RESULTS = env('LAMBDA_LS_NVIM_RESULTS')
local TIMEOUT = tonumber(os.getenv('LAMBDA_LS_NVIM_WAIT_MS') or '') or 60000 -- per wait

local lines, failed, stopped = {}, 0, false

local function step(name, fn)
  if stopped then
    failed = failed + 1
    table.insert(lines, 'FAIL ' .. name .. ': not run after an earlier failure')
    return
  end
  local ok, err = xpcall(fn, debug.traceback)
  if ok then
    table.insert(lines, 'PASS ' .. name)
  else
    failed = failed + 1
    table.insert(lines, 'FAIL ' .. name .. ': ' .. tostring(err):gsub('\n', ' | '))
    stopped = true
  end
end

local function finish()
  local f = assert(io.open(RESULTS, 'w'))
  f:write(table.concat(lines, '\n') .. '\n')
  f:close()
  if failed > 0 then
    vim.cmd('cquit 1')
  else
    vim.cmd('qall!')
  end
end

local function wait(what, predicate, ms)
  if not vim.wait(ms or TIMEOUT, predicate, 20) then
    error('timed out waiting for ' .. what, 2)
  end
end

local function eq(got, want, what)
  if not vim.deep_equal(got, want) then
    error(what .. ': got ' .. vim.inspect(got) .. ', want ' .. vim.inspect(want), 2)
  end
end

-- What the server sends on its own, and the answers to its questions.
local questions, answers, messages, begins = {}, {}, {}, {}
local client_id, client

local function request(method, params, bufnr)
  local done, err, result = false, nil, nil
  client.request(method, params, function(e, r)
    err, result, done = e, r, true
  end, bufnr)
  wait(method .. ' ' .. vim.inspect(params.command or ''), function()
    return done
  end, 3 * TIMEOUT)
  return err, result
end

local function command(name, argument, bufnr)
  return request('workspace/executeCommand', { command = name, arguments = { argument } }, bufnr)
end

local function ok_command(name, argument, bufnr)
  local err, result = command(name, argument, bufnr)
  if err then
    error(name .. ' failed: ' .. vim.inspect(err), 2)
  end
  return result
end

-- Opens a file as a user would: the setup's FileType autocommand attaches lambda-ls.
local function open(name)
  vim.cmd('edit ' .. vim.fn.fnameescape(ROOT .. '/' .. name))
  local bufnr = vim.api.nvim_get_current_buf()
  wait(name .. ' attached to lambda-ls', function()
    for _, c in ipairs(vim.lsp.get_active_clients()) do
      if c.name == 'lambda-ls' and vim.lsp.buf_is_attached(bufnr, c.id) then
        client_id = c.id
        return true
      end
    end
    return false
  end)
  return bufnr
end

local py, toml, lenses

local ok, err = xpcall(function()
  vim.cmd('filetype on')
  if os.getenv('LAMBDA_LS_NVIM_DEBUG') then
    vim.lsp.set_log_level('debug')
  end

  -- What the server sends on its own goes through the global handlers (the setup has none).
  vim.lsp.handlers['window/showMessageRequest'] = function(_, params)
    table.insert(questions, params)
    local title = table.remove(answers, 1)
    if title then
      return { title = title }
    end
    return vim.NIL
  end
  vim.lsp.handlers['window/logMessage'] = function(_, params)
    table.insert(messages, params.message)
  end
  vim.lsp.handlers['window/showMessage'] = function(_, params)
    table.insert(messages, 'shown: ' .. params.message)
  end
  local progress = vim.lsp.handlers['$/progress']
  vim.lsp.handlers['$/progress'] = function(err, params, ctx, config)
    if type(params.value) == 'table' and params.value.kind == 'begin' then
      table.insert(begins, params.value.title)
    end
    return progress(err, params, ctx, config)
  end

  step('opening a Python file starts and attaches the server (the 0.7 setup)', function()
    dofile(SETUP)
    py = open('app.py')
    eq(vim.bo[py].filetype, 'python', 'filetype')
    wait('initialize', function()
      client = vim.lsp.get_client_by_id(client_id)
      return client ~= nil and client.initialized
    end)
  end)

  step('lenses over the handler and the function lambda.toml configures', function()
    -- Requested by the setup's on_attach.
    wait('code lenses', function()
      return #vim.lsp.codelens.get(py) > 0
    end)
    lenses = vim.lsp.codelens.get(py)
    local titles = {}
    for _, lens in ipairs(lenses) do
      table.insert(titles, lens.range.start.line .. ': ' .. lens.command.title)
    end
    eq(titles, { '3: Deploy', '3: Invoke', '3: Debug', '3: Logs', '3: Live', '9: Deploy', '9: Invoke', '9: Debug', '9: Logs', '9: Live' }, 'lenses')
  end)

  local function lens(line, title)
    for _, l in ipairs(lenses) do
      if l.range.start.line == line and l.command.title == title then
        return l.command
      end
    end
    error('no lens ' .. title .. ' on line ' .. line)
  end

  step('the Deploy lens command deploys to the local Lambda', function()
    local deploy = lens(3, 'Deploy')
    eq(deploy.command, 'lambda.deploy', 'command')
    local result = ok_command(deploy.command, deploy.arguments[1], py)
    eq(result.function_name, 'app-handler', 'function_name')
    eq(result.handler, 'app.handler', 'handler')
    eq(result.target['local'], true, 'target.local')
    eq(#questions, 0, 'questions for the local Lambda')
  end)

  step('invoke returns the payload', function()
    local invoke = lens(3, 'Invoke')
    local argument = vim.deepcopy(invoke.arguments[1])
    argument.payload = { name = 'nvim' }
    local result = ok_command(invoke.command, argument, py)
    eq(result.status_code, 200, 'status_code')
    eq(result.function_error, nil, 'function_error (JSON null)')
    eq(result.payload, { statusCode = 200, body = 'Hello, nvim!' }, 'payload')
  end)

  step('the Logs lens returns the function logs', function()
    local logs = lens(3, 'Logs')
    local result = ok_command(logs.command, logs.arguments[1], py)
    eq(result.name, 'app-handler', 'name')
    eq(result.source, 'local-lambda', 'source')
    assert(result.text:find('greeting nvim', 1, true), 'no "greeting nvim" in ' .. result.text)
    wait('the logs in window/logMessage', function()
      for _, m in ipairs(messages) do
        if m:find('--- logs of app-handler', 1, true) and m:find('greeting nvim', 1, true) then
          return true
        end
      end
      return false
    end)
  end)

  step('the Live lens redeploys and invokes again when the buffer is written', function()
    local live = lens(3, 'Live')
    local argument = vim.deepcopy(live.arguments[1])
    argument.payload = { name = 'live' }
    eq(ok_command(live.command, argument, py).live, true, 'live')
    vim.api.nvim_buf_call(py, function()
      vim.cmd([[%s/"statusCode": 200/"statusCode": 201/]])
      vim.cmd('write')
    end)
    wait('the new result after :write', function()
      for _, m in ipairs(messages) do
        if m:find('"statusCode": 201', 1, true) and m:find('Hello, live!', 1, true) then
          return true
        end
      end
      return false
    end)
    argument.on = false
    eq(ok_command(live.command, argument, py).live, false, 'live off')
  end)

  step('the configured function deploys and invokes under its lambda.toml name', function()
    local deploy = lens(9, 'Deploy')
    local result = ok_command(deploy.command, deploy.arguments[1], py)
    eq(result.function_name, 'nvim-adder', 'function_name')
    local argument = vim.deepcopy(lens(9, 'Invoke').arguments[1])
    argument.payload = { a = 2, b = 3 }
    result = ok_command('lambda.invoke', argument, py)
    eq(result['function'], 'nvim-adder', 'function')
    eq(result.payload, 5, 'payload')
  end)

  step('lambda.toml problems appear as diagnostics and clear when fixed', function()
    toml = open('lambda.toml')
    eq(vim.bo[toml].filetype, 'toml', 'filetype')
    eq(#vim.lsp.get_active_clients(), 1, 'one client for both files')
    -- Typing a misspelt key (incremental sync from Neovim).
    vim.api.nvim_buf_set_lines(toml, 3, 3, false, { 'memroy = 256' })
    wait('a diagnostic on line 3', function()
      return #vim.diagnostic.get(toml) == 1
    end)
    local d = vim.diagnostic.get(toml)[1]
    eq({ d.lnum, d.col, d.end_col }, { 3, 0, 6 }, 'range')
    assert(d.message:find('unknown key `memroy`', 1, true), d.message)
    eq(d.severity, vim.diagnostic.severity.ERROR, 'severity')
    vim.api.nvim_buf_set_text(toml, 3, 0, 3, 6, { 'memory' })
    wait('the diagnostic to clear', function()
      return #vim.diagnostic.get(toml) == 0
    end)
  end)

  step('lambda.toml keys complete and hover with their documentation', function()
    vim.api.nvim_buf_set_lines(toml, 4, 4, false, { 'ti' })
    local at = { textDocument = vim.lsp.util.make_text_document_params(toml), position = { line = 4, character = 2 } }
    local err, items = request('textDocument/completion', at, toml)
    assert(not err, vim.inspect(err))
    items = items.items or items
    local found
    for _, item in ipairs(items) do
      if item.label == 'timeout' then
        found = item
      end
      assert(item.label ~= 'memory' and item.label ~= 'target', 'already set: ' .. item.label)
    end
    assert(found, 'no timeout in ' .. vim.inspect(items))
    eq(found.textEdit.newText, 'timeout', 'newText')
    assert(found.documentation.value:find('1–900', 1, true), found.documentation.value)
    local hover
    err, hover = request('textDocument/hover', { textDocument = at.textDocument, position = { line = 3, character = 2 } }, toml)
    assert(not err, vim.inspect(err))
    assert(hover.contents.value:find('**memory**', 1, true), vim.inspect(hover))
    vim.api.nvim_buf_set_lines(toml, 4, 5, false, {})
    -- Other TOML files are left alone by the setup.
    vim.cmd('edit ' .. vim.fn.fnameescape(ROOT .. '/other.toml'))
    eq(#vim.lsp.buf_get_clients(vim.api.nvim_get_current_buf()), 0, 'clients on other.toml')
  end)

  step('a deploy to an AWS profile whose account cannot be determined fails at once, unasked', function()
    local selected = ok_command('lambda.selectProfile', { profile = 'closed' }, py)
    eq(selected.profile, 'closed', 'profile')
    eq(begins, { 'Deploying app-handler', 'Deploying nvim-adder' }, 'deploys so far')
    local reply
    local deploy = { command = 'lambda.deploy', arguments = { lens(3, 'Deploy').arguments[1] } }
    client.request('workspace/executeCommand', deploy, function(e, r)
      reply = { err = e, result = r }
    end, py)
    wait('the failure', function()
      return reply ~= nil
    end)
    eq(reply.err and reply.err.code, -32803, 'error code (RequestFailed)')
    local prefix = 'nothing was deployed: cannot tell which AWS account profile closed deploys to ('
    eq(reply.err.message:sub(1, #prefix), prefix, 'the reason')
    local shown = 0
    for _, m in ipairs(messages) do
      if m == 'shown: ' .. reply.err.message then
        shown = shown + 1
      end
    end
    eq(shown, 1, 'the failure shown once')
    eq(#questions, 0, 'questions')
  end)

  step('the server shuts down', function()
    vim.lsp.stop_client(client_id)
    wait('the client to stop', function()
      return vim.lsp.get_client_by_id(client_id) == nil
    end)
  end)
end, debug.traceback)

if not ok then
  failed = failed + 1
  table.insert(lines, 'FAIL the script: ' .. tostring(err):gsub('\n', ' | '))
end
finish()
