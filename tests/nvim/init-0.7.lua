-- lambda-ls in Neovim 0.7 (vim.lsp.start_client): one client per Neovim, attached to Python
-- buffers and to lambda.toml; code lenses (Deploy / Invoke / Logs) refreshed as you move.
-- The README shows this file; tests/nvim/run loads it unchanged. Needs `lambda-ls` on PATH.
local lambda_ls

local function refresh_lenses()
  local client = lambda_ls and vim.lsp.get_client_by_id(lambda_ls)
  if client and client.initialized then
    vim.lsp.codelens.refresh()
  end
end

vim.api.nvim_create_autocmd('FileType', {
  pattern = { 'python', 'toml' },
  callback = function(args)
    local file = vim.api.nvim_buf_get_name(args.buf)
    if vim.bo[args.buf].filetype == 'toml' and vim.fn.fnamemodify(file, ':t') ~= 'lambda.toml' then
      return
    end
    lambda_ls = lambda_ls or vim.lsp.start_client({
      name = 'lambda-ls',
      cmd = { 'lambda-ls', 'lsp' },
      root_dir = vim.fn.getcwd(),
      -- init_options = { profile = 'dev' }, -- else AWS_PROFILE, then default, then local
      on_attach = refresh_lenses,
    })
    vim.lsp.buf_attach_client(args.buf, lambda_ls)
  end,
})

vim.api.nvim_create_autocmd({ 'BufEnter', 'CursorHold', 'InsertLeave' }, {
  pattern = '*.py',
  callback = refresh_lenses,
})
